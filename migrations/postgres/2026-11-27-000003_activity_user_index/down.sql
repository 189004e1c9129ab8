DROP INDEX activity_user;
