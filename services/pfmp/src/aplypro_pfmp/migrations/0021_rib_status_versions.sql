-- RibStatusChanged (issue 13) and its predecessor RibOnFile carry the version of the student's RIB sequence at an
-- establishment: the last one applied, so that an older status read late never brings back a RIB the pair lost.
-- A pair without a row here (facts applied before this migration) takes any status.
CREATE TABLE rib_status_versions (
    student_id uuid NOT NULL,
    uai        text NOT NULL,
    version    int NOT NULL,
    PRIMARY KEY (student_id, uai)
);
