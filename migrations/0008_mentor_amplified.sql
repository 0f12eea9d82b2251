-- "I amplified it" events (a mentor's link on the mentee's journey), read by reports and digests.
create index journey_events_amplified on journey_events (cohort_id, at) include (participant_id, payload)
    where type = 'mentor_amplified';
