"""Remote consultation: asking, routing to who is on call, conversation, opinions, sessions."""
