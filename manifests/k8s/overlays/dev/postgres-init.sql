-- The app database (POSTGRES_DB) is created by the image; LangGraph checkpoints get their own.
CREATE DATABASE pmark_checkpoints OWNER pmark;
