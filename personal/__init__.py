"""The debtor register: who a debtor is and where to write, kept apart from case events, each
debtor's fields encrypted with that debtor's own data key, erased by destroying that key."""
