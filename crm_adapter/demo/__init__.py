"""The fictional demo bank «Белая Гавань Private»: its data file (`bank.yaml`), the file's
schema (`spec`), the history computed from seeded rules (`history`) and the loader
behind `concierge demo-data` (`loader`)."""
