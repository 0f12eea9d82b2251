-- What a participant asked for through a signed link, recorded before the journey hears of it.
-- One row per journey update an action leads to. `intent_id` is deterministic (a hash of the link's token
-- and the submitted form, plus the step), so submitting the same thing twice inserts nothing; it is also
-- the Temporal update id and the domain command id, so Temporal and the journey drop duplicates too.
create table participant_intents (
    intent_id       text primary key,
    action_id       text not null,             -- groups the steps of one submission
    step            integer not null,
    workflow_id     text not null,
    cohort_id       text not null,
    participant_id  text not null,
    action          text not null,             -- milestone | persona | snooze | conference | preferences | unsubscribe
    update_name     text not null,             -- the JourneyWorkflow update, e.g. record_milestone
    command         jsonb not null,            -- the command's fields, command_id included
    status          text not null check (status in ('pending', 'applied', 'rejected')),
    detail          text,                      -- why rejected, or why still pending
    attempts        integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    applied_at      timestamptz,
    unique (action_id, step),
    foreign key (cohort_id, participant_id) references participants (cohort_id, participant_id)
);
create index participant_intents_due on participant_intents (next_attempt_at) where status = 'pending';
create index participant_intents_participant on participant_intents (cohort_id, participant_id, created_at);
