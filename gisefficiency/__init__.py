"""gisefficiency: 亩均论英雄 per-mu land efficiency toolkit."""
