-- When each instrument's calibration falls due (NULL: not tracked). The lab board
-- shows it, red once it is past; changing it is audited like any instrument change.
ALTER TABLE instruments ADD COLUMN calibration_due date;
