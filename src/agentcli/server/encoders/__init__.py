"""Wire formats encoded from a turn's buffered events: one event stream in, a wire format out.

Each encoder folds the library's events (``Started``, text, tool calls and results,
``TurnComplete`` or ``Failed``) into one API's stream payloads; the same fold, run over a
finished turn, gives that API's non-streamed body, so a stream and a plain request of the
same turn tell one story. Encoders hold no server state: a turn's buffer is all they read.
"""
