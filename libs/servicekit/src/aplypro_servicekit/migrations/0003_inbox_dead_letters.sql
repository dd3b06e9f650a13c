-- An inbox row whose event was dead-lettered keeps where that happened (topic:partition:offset of the
-- record): a redelivery of that record stays a no-op, while a replay of the dead letter (a new record
-- carrying the replay-attempts header) is processed again. NULL: the event was processed.
ALTER TABLE processed_messages ADD COLUMN dead_lettered_at text;
