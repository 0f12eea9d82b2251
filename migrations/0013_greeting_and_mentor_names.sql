-- Greet people as they want to be greeted (issue 14): the roster's optional `greeting_name` (null: derived
-- from the name, never a bare title) and the mentor's name from `mentor_name` (emails name the mentor and
-- replies go to them).
alter table participants add column greeting_name text, add column mentor_name text;
