DROP TABLE group_mappings;
DROP TABLE group_members;
DROP TABLE groups;
