-- Air quality measurements in long form: one row per station, parameter and hour.
CREATE TABLE measurements (
    station   text             NOT NULL,
    parameter text             NOT NULL,
    time      timestamptz      NOT NULL,
    value     double precision,
    unit      text,
    latitude  double precision,
    longitude double precision,
    PRIMARY KEY (station, parameter, time)
);
