"""Table 1 of Park et al. (2018): the paper's figures as reconstructed (:mod:`.data`) and their
recomputation from the model presets beside them (:mod:`.table1`)."""
