from ..sidereal.conftest import moving_streak_sequence  # noqa: F401 (the shared fixture)
