"""The organizers' web console under ``/console``: log in by link, broadcast, stats, content.

See ``docs/CONSOLE.md``. :class:`~bot.organizer.web.server.Console` assembles the pages;
each module owns one part (login links, CSRF, pages and templates, one area of views, the
charts, the console's own words).
"""
