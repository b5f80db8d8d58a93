"""What the tests hold the package to: a scalar oracle of the evaluation (:mod:`.oracle`)."""
