-- The seat map pages through the seats of one section in row, then seat,
-- order: keyset pagination on (row_idx, seat) within (show_id, section).
-- The primary key orders rows by label, not by the order the organizer gave
-- them, so it cannot serve those pages; this index does, and also answers
-- the last row of each section (max(row_idx)) for the section summary. It is
-- unique: a section's row labels are distinct, and createShow numbers them
-- 0, 1, ... in order.

-- +goose Up
create unique index rm_seats_order on rm_seats (show_id, section, row_idx, seat);

-- +goose Down
drop index rm_seats_order;
