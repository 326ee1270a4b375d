{#-
    The current segment memberships the sync activates, with when each membership started, the
    person's holdout flag for that segment and whether they may be emailed marketing at all.
-#}

with

members as (

    select * from {{ ref('int_segment_memberships') }}

),

open_memberships as (

    select * from {{ ref('segment_history') }}
    where exited_at is null

),

customers as (

    select * from {{ ref('customers') }}

),

final as (

    select
        members.customer_id,
        members.segment,
        members.segment_family,
        -- The history has no open row only when this run's date is older than its latest
        -- (it never records backwards): the membership is then counted from this date.
        coalesce(open_memberships.entered_at, members.as_of_date) as entered_at,
        {{ segment_holdout('members.segment', 'members.customer_id') }} as is_holdout,
        customers.can_receive_email_marketing as is_marketable,
        members.as_of_date
    from members
    inner join customers on members.customer_id = customers.customer_id
    left join open_memberships
        on
            members.customer_id = open_memberships.customer_id
            and members.segment = open_memberships.segment

)

select * from final
