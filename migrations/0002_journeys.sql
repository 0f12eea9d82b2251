-- The journey event store, its projections and the send ledger.

-- The program a cohort runs, frozen at launch: editing programs/ later does not change running cohorts.
alter table cohorts add column program_json jsonb;

-- The participant's own word, written before the journey hears of it (links and staff commands).
alter table participants add column unsubscribed_at timestamptz;
alter table participants add column paused_until timestamptz;

-- Append-only: one row per domain event, idempotent on the event id.
create table journey_events (
    seq            bigserial primary key,
    event_id       text not null unique,
    workflow_id    text not null,
    cohort_id      text not null,
    participant_id text not null,
    type           text not null,
    at             timestamptz not null,
    payload        jsonb not null,
    recorded_at    timestamptz not null default now(),
    foreign key (cohort_id, participant_id) references participants (cohort_id, participant_id)
);
create index journey_events_participant on journey_events (cohort_id, participant_id, at);

create function journey_events_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'journey_events is append-only';
end $$;
create trigger journey_events_append_only before update or delete on journey_events
    for each row execute function journey_events_append_only();

-- Projection: where each journey stands. Written in the same transaction as its events.
create table journey_status (
    cohort_id      text not null,
    participant_id text not null,
    workflow_id    text not null unique,
    version        bigint not null,          -- events folded so far; an older write never wins
    mode           text not null,
    personas       text[] not null default '{}',
    next_nudge_at  timestamptz,
    next_nudge_id  text,
    paused_until   timestamptz,
    updated_at     timestamptz not null default now(),
    primary key (cohort_id, participant_id),
    foreign key (cohort_id, participant_id) references participants (cohort_id, participant_id)
);
create index journey_status_cohort_mode on journey_status (cohort_id, mode);

create table participant_milestones (
    cohort_id      text not null,
    participant_id text not null,
    milestone_id   text not null,
    achieved_at    timestamptz not null,
    primary key (cohort_id, participant_id, milestone_id),
    foreign key (cohort_id, participant_id) references participants (cohort_id, participant_id)
);

-- One row per email the journey decided to send; claimed before the SMTP conversation.
create table send_ledger (
    workflow_id    text not null,
    nudge_key      text not null,
    cohort_id      text not null,
    participant_id text not null,
    nudge_id       text not null,
    kind           text not null,
    scheduled_at   timestamptz not null,
    status         text not null check (status in ('sending', 'sent', 'failed', 'suppressed')),
    message_id     text not null,
    subject        text,
    attempts       integer not null default 0,
    error          text,
    claimed_at     timestamptz not null default now(),
    sent_at        timestamptz,
    updated_at     timestamptz not null default now(),
    primary key (workflow_id, nudge_key),
    foreign key (cohort_id, participant_id) references participants (cohort_id, participant_id)
);
create index send_ledger_cohort_status on send_ledger (cohort_id, status);
create index send_ledger_sending on send_ledger (updated_at) where status = 'sending';

-- Counts per cohort, read by reports (never from Temporal).
create view cohort_summary as
select p.cohort_id,
       count(*)                                             as participants,
       count(*) filter (where s.mode is null)               as not_started,
       count(*) filter (where s.mode = 'active')            as active,
       count(*) filter (where s.mode = 'burst')             as in_burst,
       count(*) filter (where s.mode = 'paused')            as paused,
       count(*) filter (where s.mode = 'dormant')           as dormant,
       count(*) filter (where s.mode = 'unsubscribed')      as unsubscribed,
       count(*) filter (where s.mode = 'completed')         as completed
from participants p
left join journey_status s using (cohort_id, participant_id)
group by p.cohort_id;
