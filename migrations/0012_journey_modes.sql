-- Silence is not dormancy (issue 14): a journey without clicks is 'slowed' (the track goes on at a gentler
-- pace), and after an unanswered "shall we keep writing?" it is 'quiet' (no email until the participant
-- acts). The summary counts both instead of 'dormant', which no journey reports any more.
drop view cohort_summary;
create view cohort_summary as
select p.cohort_id,
       count(*)                                             as participants,
       count(*) filter (where s.mode is null)               as not_started,
       count(*) filter (where s.mode = 'active')            as active,
       count(*) filter (where s.mode = 'burst')             as in_burst,
       count(*) filter (where s.mode = 'paused')            as paused,
       count(*) filter (where s.mode = 'slowed')            as slowed,
       count(*) filter (where s.mode = 'quiet')             as quiet,
       count(*) filter (where s.mode = 'unsubscribed')      as unsubscribed,
       count(*) filter (where s.mode = 'completed')         as completed
from participants p
left join journey_status s using (cohort_id, participant_id)
group by p.cohort_id;
