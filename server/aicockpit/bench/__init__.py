"""``aicockpit bench``: replays typing traces against a real ``aicockpit serve`` over stdio."""
