"""Extensions registered into the stock SAM2 trainer (`sam2==1.1.0`): launcher, configs, trainer."""
