-- Conferences from the roster: added to each journey right after it starts (the launch reads them here,
-- so the launch workflow's own input stays small for a 10,000-row cohort).
alter table participants add column conferences jsonb not null default '[]';
