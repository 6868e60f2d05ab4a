"""The curator notebook's explorer: a lazily navigable XML index and its widget app."""
