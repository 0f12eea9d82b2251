-- Cohorts and their participants. Personal data (name, email) lives here, never in Temporal.
create table cohorts (
    cohort_id  text primary key,
    program    text not null,
    start_date date not null,
    created_at timestamptz not null default now()
);

create table participants (
    cohort_id      text not null references cohorts,
    participant_id text not null,
    name           text not null,
    email          text not null,
    timezone       text not null,
    send_days      text[] not null,
    send_time      time not null,
    personas       text[] not null default '{}',
    mentor_email   text,
    mission        text,
    created_at     timestamptz default now(),
    primary key (cohort_id, participant_id),
    unique (cohort_id, email)
);
