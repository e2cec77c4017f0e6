"""Glue for entry points: config resolvers, instantiation, precision, printing, atomic files."""
