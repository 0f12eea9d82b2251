-- What cohort reports read besides the projections of 0002.

-- Projection: each journey's mode over time (one row per change), for "participants by mode per week".
-- Written by a trigger on journey_status, so it moves in the same transaction as the events; `at` is the
-- latest event's instant (journey time, not the database clock).
create table journey_modes (
    seq            bigserial primary key,
    cohort_id      text not null,
    participant_id text not null,
    mode           text not null,
    at             timestamptz not null,
    foreign key (cohort_id, participant_id) references participants (cohort_id, participant_id)
);
create index journey_modes_cohort on journey_modes (cohort_id, participant_id, at);

create function journey_status_mode_history() returns trigger language plpgsql as $$
begin
    if tg_op = 'INSERT' or new.mode is distinct from old.mode then
        insert into journey_modes (cohort_id, participant_id, mode, at)
        values (new.cohort_id, new.participant_id, new.mode,
                coalesce((select max(e.at) from journey_events e
                          where e.cohort_id = new.cohort_id and e.participant_id = new.participant_id),
                         now()));
    end if;
    return new;
end $$;
create trigger journey_status_mode_history after insert or update of mode on journey_status
    for each row execute function journey_status_mode_history();

-- A participant's clicks: events caused by a signed link (their command id is the intent id `link-...`).
create index journey_events_clicks on journey_events (cohort_id, at)
    include (participant_id, type)
    where payload ->> 'command_id' like 'link-%';

-- Emails per week.
create index send_ledger_cohort_scheduled on send_ledger (cohort_id, scheduled_at) include (status, participant_id);
