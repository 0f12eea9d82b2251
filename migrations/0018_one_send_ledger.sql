-- One send ledger for every email: participants' nudges and mentors' digests and amplify prompts follow
-- the same exactly-once rules (claim, point of no return, `uncertain`) and the same staff commands, metrics
-- and reports (`mail list|resolve|resend`, the stuck/uncertain gauges, `cohort status|report`).
-- `recipient` says whose email a row is; the recipient's id is participant_id or mentor_id (each keeps its
-- foreign key) and `recipient_id` is that id, whichever it is.
drop table mentor_ledger;

alter table send_ledger
    add column recipient text not null default 'participant' check (recipient in ('participant', 'mentor')),
    add column mentor_id text,
    alter column participant_id drop not null,
    add foreign key (cohort_id, mentor_id) references mentors (cohort_id, mentor_id),
    add constraint send_ledger_one_recipient check (
        (recipient = 'participant' and participant_id is not null and mentor_id is null)
        or (recipient = 'mentor' and mentor_id is not null and participant_id is null));
alter table send_ledger
    add column recipient_id text generated always as (coalesce(participant_id, mentor_id)) stored;

-- A mentor's last digest or prompt (the prompt cap), and `mentor show`.
create index send_ledger_mentor on send_ledger (cohort_id, mentor_id, scheduled_at) where recipient = 'mentor';

-- Emails per week, by status and recipient (`cohort report`), read from the index alone.
drop index send_ledger_cohort_scheduled;
create index send_ledger_cohort_scheduled on send_ledger (cohort_id, scheduled_at)
    include (status, participant_id, recipient);
