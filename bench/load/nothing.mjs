// Node starting an ES module that does nothing: what every contender pays.
