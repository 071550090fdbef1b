"""``python -m whalefall_sched``."""

from whalefall_sched.cli import main

if __name__ == "__main__":
    main()
