"""kyrbot: a bilingual know-your-rights chatbot about Milwaukee police rule SOP 130."""

__version__ = "0.1.0"
