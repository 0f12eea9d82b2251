-- The journey's events are the truth about a participant's preferences; this projection is what pages
-- and reports read. participants keeps contact data, the roster's starting preferences (read once, by the
-- launch) and what the sender re-checks (unsubscribed_at, paused_until).
alter table journey_status add column timezone text;
alter table journey_status add column send_days text[];
alter table journey_status add column send_time time;
