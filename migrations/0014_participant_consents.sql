-- A participant's consent to be written to again after unsubscribing (issue 14): who recorded it, when,
-- and how the participant asked, in staff's words. Kept in Postgres only; the journey's `resubscribed`
-- event names the consent by id.
create table participant_consents (
    consent_id      text primary key,
    cohort_id       text not null,
    participant_id  text not null,
    kind            text not null check (kind in ('resubscribe')),
    consent         text not null,         -- how the participant asked
    recorded_by     text not null,         -- the staff member who recorded it
    recorded_at     timestamptz not null default now(),
    unsubscribed_at timestamptz,           -- the unsubscribe it lifted
    foreign key (cohort_id, participant_id) references participants (cohort_id, participant_id)
);
create index participant_consents_participant on participant_consents (cohort_id, participant_id);
