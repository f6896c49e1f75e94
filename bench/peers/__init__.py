"""What a Python developer would write instead of kyrbot: the bots its benchmarks compare with."""
