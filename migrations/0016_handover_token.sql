-- Which attempt recorded the point of no return: when the write of the mark fails ambiguously (Postgres
-- went away mid-statement), the attempt that never handed the message over clears its own mark, and only
-- its own, instead of leaving an 'uncertain' row for staff.
alter table send_ledger add column handover_token text;
