-- Mentor emails follow the send ledger's point of no return (0009): the handover is recorded before the
-- message goes; an attempt that finds it and no reply makes the row 'uncertain', never a second send.
alter table mentor_ledger drop constraint mentor_ledger_status_check;
alter table mentor_ledger add constraint mentor_ledger_status_check
    check (status in ('sending', 'sent', 'failed', 'suppressed', 'uncertain'));
alter table mentor_ledger add column handed_over_at timestamptz;
