-- The send ledger's point of no return and the rows nobody can settle alone.
--
-- handed_over_at: set just before the message goes to the relay (before DATA). A retry that finds it set
-- and no reply recorded must not send again: the row becomes 'uncertain' (the relay may or may not hold
-- the message) until staff resolve it (`mentorflow mail resolve|resend`).
alter table send_ledger drop constraint send_ledger_status_check;
alter table send_ledger add constraint send_ledger_status_check
    check (status in ('sending', 'sent', 'failed', 'suppressed', 'uncertain'));
alter table send_ledger add column handed_over_at timestamptz;
-- What the send needs to be made again (ids and the journey's facts, no contact data): `mail resend`.
alter table send_ledger add column input jsonb;
-- A short handle for staff commands (`mail resolve 42 --sent`).
alter table send_ledger add column id bigserial unique;
-- Who settled an uncertain row, and how.
alter table send_ledger add column resolution text;

-- Stuck rows are found by when they were first claimed: every retry refreshes updated_at.
drop index send_ledger_sending;
create index send_ledger_sending on send_ledger (claimed_at) where status = 'sending';
create index send_ledger_uncertain on send_ledger (cohort_id) where status = 'uncertain';
