"""Wire formats: how a conversation, tools and answers look on one vendor's API.

``base`` holds what every format produces (``Round``, ``RoundUsage``) and the ``WireFormat``
each implements; ``openai`` and ``anthropic`` translate requests, parse answers and streams, and
read usage. None of them imports its SDK until a request is made.
"""
