"""Operations on Showers: one block function per op, for lazy and in-memory data."""
