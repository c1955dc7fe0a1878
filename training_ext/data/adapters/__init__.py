"""Raw datasets for the stock ``VOSDataset``: COCO-video, YouTube-VIS, COCO images, checked
DAVIS folders.

Each adapter is a ``training.dataset.vos_raw_dataset.VOSRawDataset`` (``get_video(idx)`` returns a
stock ``VOSVideo`` and a segment loader whose ``load(frame_idx)`` gives ``{object_id: mask}``), so
the stock samplers, transforms and collate run unchanged. Indexes are built once from the
annotation file; masks are decoded with pycocotools only when a clip needs them.
"""
