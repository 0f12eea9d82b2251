-- Mentors: people of a cohort (in Postgres only; Temporal sees `mentor_id`, a hash of the email).
-- Built from the roster's mentor_email at launch; a mentor may also be a participant of the cohort.
create table mentors (
    cohort_id       text not null references cohorts,
    mentor_id       text not null,
    email           text not null,
    name            text not null,
    timezone        text not null,
    digest_day      text not null default 'mon',
    send_time       time not null default '08:30',
    digest          text not null default 'weekly' check (digest in ('weekly', 'off')),
    prompts         boolean not null default true,
    unsubscribed_at timestamptz,
    last_digest_at  timestamptz,              -- the digest covers what happened since this instant
    created_at      timestamptz not null default now(),
    primary key (cohort_id, mentor_id),
    unique (cohort_id, email)
);
create index participants_mentor on participants (cohort_id, lower(mentor_email));

-- Emails to mentors (digests, amplify prompts): the send ledger's rules (claimed before the SMTP
-- conversation, keyed by workflow and email, a deterministic Message-ID), kept apart from the
-- participants' ledger so participant reports count participants' emails only.
create table mentor_ledger (
    workflow_id  text not null,
    nudge_key    text not null,
    cohort_id    text not null,
    mentor_id    text not null,
    nudge_id     text not null,             -- digest | amplify
    scheduled_at timestamptz not null,
    status       text not null check (status in ('sending', 'sent', 'failed', 'suppressed')),
    message_id   text not null,
    subject      text,
    attempts     integer not null default 0,
    error        text,
    claimed_at   timestamptz not null default now(),
    sent_at      timestamptz,
    updated_at   timestamptz not null default now(),
    primary key (workflow_id, nudge_key),
    foreign key (cohort_id, mentor_id) references mentors (cohort_id, mentor_id)
);
create index mentor_ledger_mentor on mentor_ledger (cohort_id, mentor_id, scheduled_at);
