"""Chat: sessions kept in SQLite, and the service that answers messages."""
