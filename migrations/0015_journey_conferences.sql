-- The journey's conferences that are not over (roster, staff and participants' alike), for the pages.
alter table journey_status add column conferences jsonb not null default '[]';
