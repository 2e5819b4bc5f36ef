import pytest

from cegema_onboarding.testing import StorageContract

from json_storage import JsonFileStorage


class TestJsonFileStorage(StorageContract):
    @pytest.fixture
    def storage(self, tmp_path):
        return JsonFileStorage(tmp_path / "onboarding.json")
