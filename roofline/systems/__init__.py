"""Multi-device systems: specs (:mod:`~roofline.systems.spec`), collectives priced by the
alpha-beta model (:mod:`~roofline.systems.collectives`), and parallel layouts."""
