"""The workspace report: ``api`` gathers it, ``contents`` types it, ``html`` and ``markdown`` render it."""
