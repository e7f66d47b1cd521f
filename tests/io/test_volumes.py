"""Volumes on the real BraTS case: geometry kept on export, windows, DICOM series, bad input."""

import nibabel as nib
import numpy as np
import pytest

from gazeseg.core.errors import InputError
from gazeseg.io.volumes import WINDOWS, load_volume, save_label_volume, window_to_uint8


@pytest.fixture(scope="module")
def flair(data_dir):
    return data_dir / "brats" / "brats_2013_pat0001_1" / "Flair_subtrMeanDivStd.nii.gz"


def test_flair_slices_and_label_export_keep_source_geometry(flair, data_dir, tmp_path):
    vol = load_volume(flair)
    source = nib.load(str(flair))
    assert vol.data.shape == source.shape[:3] and vol.modality == "MR"
    truth = np.asarray(nib.load(str(data_dir / "brats" / "brats_2013_pat0001_1" / "OTMultiClass.nii.gz")).dataobj) > 0
    z = int(np.argmax(truth.sum(axis=(0, 1))))
    assert vol.slice(z).shape == vol.slice_hw
    np.testing.assert_array_equal(vol.slice(z), vol.data[:, :, z].T)
    out = save_label_volume(truth.astype(np.uint8), vol, tmp_path / "labels.nii.gz")
    back = nib.load(str(out))
    assert back.shape == source.shape[:3]
    np.testing.assert_allclose(back.affine, source.affine, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(back.dataobj) > 0, truth)
    with pytest.raises(InputError, match="shape"):
        save_label_volume(np.zeros((3, 3, 3), np.uint8), vol, tmp_path / "bad.nii.gz")
    with pytest.raises(InputError, match="slice"):
        vol.slice(vol.depth)


def test_windows_ct_presets_and_mr_percentiles(flair):
    hu = np.array([-1000.0, -600.0, 40.0, 240.0, 400.0, 3000.0], np.float32)
    soft = window_to_uint8(hu, modality="CT")  # default CT: soft tissue 400/40 -> [-160, 240]
    assert soft[0] == 0 and soft[2] == 127 and soft[3] == 255
    lung = window_to_uint8(hu, preset="lung")  # 1500/-600 -> [-1350, 150]
    assert lung[1] == 127 and lung[2] > 200
    assert window_to_uint8(hu, preset="bone")[4] == 127
    assert set(WINDOWS) >= {"soft-tissue", "lung", "bone"}
    mr = window_to_uint8(load_volume(flair).slice(70), modality="MR")
    assert mr.dtype == np.uint8 and mr.max() == 255 and (mr == 0).mean() > 0.2
    with pytest.raises(InputError, match="preset"):
        window_to_uint8(hu, preset="liver")


def test_dicom_series_from_real_slices_sorted_by_position(flair, tmp_path):
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    vol = load_volume(flair)
    series = tmp_path / "series"
    series.mkdir()
    for i, z in enumerate([62, 60, 61]):  # written out of order on purpose
        meta = FileMetaDataset()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        ds = FileDataset(str(series / f"{i}.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
        pixels = (vol.slice(z) * 100 + 1000).clip(0, 65535).astype(np.uint16)
        ds.Rows, ds.Columns = pixels.shape
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.PixelSpacing, ds.ImagePositionPatient, ds.Modality = [1.0, 1.0], [0.0, 0.0, float(z) * 2.0], "MR"
        ds.RescaleSlope, ds.RescaleIntercept = 0.01, -10.0
        ds.PixelData = pixels.tobytes()
        ds.save_as(str(series / f"{i}.dcm"), enforce_file_format=True)
    (series / "notes.txt").write_text("not dicom")
    dicom = load_volume(series)
    assert dicom.depth == 3 and dicom.modality == "MR"
    assert dicom.affine[2, 2] == pytest.approx(2.0)
    for k, z in enumerate([60, 61, 62]):
        np.testing.assert_allclose(dicom.slice(k), vol.slice(z).clip(-10, None), atol=0.011)


def test_bad_volumes_give_clear_errors(tmp_path):
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"not a nifti at all")
    with pytest.raises(InputError, match="NIfTI"):
        load_volume(broken)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="DICOM"):
        load_volume(empty)
    with pytest.raises(InputError, match="no file"):
        load_volume(tmp_path / "missing.nii")
    flat = tmp_path / "flat.nii"
    nib.save(nib.Nifti1Image(np.zeros((4, 4), np.float32), np.eye(4)), str(flat))
    with pytest.raises(InputError, match="3D"):
        load_volume(flat)
