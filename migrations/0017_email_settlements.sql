-- The journey's count of emails that went (its events folded: an email settled by the send ledger's
-- final word included), for `participant show` and reports also after the journey ended.
alter table journey_status add column emails_sent integer not null default 0;
-- When staff last sent the email again (`mail resend`): its outcome is told to the journey too.
alter table send_ledger add column resent_at timestamptz;
