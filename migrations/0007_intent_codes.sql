-- Intents hold the whole typed command (its `type` names the update), and a rejection's domain code.
alter table participant_intents drop column update_name;
alter table participant_intents add column code text;  -- domain RejectionCode when status = 'rejected'
comment on column participant_intents.action is 'the link''s action (milestone, persona, ...) or staff';
