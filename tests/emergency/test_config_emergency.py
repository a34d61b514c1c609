"""`[emergency]` settings and policies/mappings/ are validated by `config check`."""

from __future__ import annotations

from vk_backup import make_config, vk

from vaultkeeper.canonical import default_mapping_texts


def test_default_region_and_target(tmp_path):
    config = make_config(tmp_path, extra='[emergency]\ndefault_region = "gb"\n'
                                          'target = "hubspot"\n')
    assert vk(config, "config", "check").returncode == 0
    config = make_config(tmp_path, extra='[emergency]\ndefault_region = "Great Britain"\n')
    result = vk(config, "config", "check")
    assert result.returncode == 5
    assert "[emergency] default_region" in result.stderr and "two-letter" in result.stderr


def test_mapping_errors_name_the_file_and_key(tmp_path):
    config = make_config(tmp_path)
    folder = tmp_path / "policies" / "mappings"
    folder.mkdir(parents=True)
    text = default_mapping_texts()["hubspot"]
    path = folder / "hubspot.toml"
    path.write_text(text.replace('first_name = "firstname"', 'frist_name = "firstname"'))
    result = vk(config, "config", "check")
    assert result.returncode == 5
    assert f"{path}: [person.fields] frist_name: unknown key" in result.stderr
    assert "did you mean first_name?" in result.stderr
    path.write_text(text.replace('"@rel:contacts__companies"', '"@relation:x"'))
    result = vk(config, "config", "check")
    assert result.returncode == 5 and "organisation_id" in result.stderr
    path.write_text(text.replace('street = "address"', 'street = "@id"'))
    result = vk(config, "config", "check")
    assert result.returncode == 5 and "not a reference field" in result.stderr
    path.unlink()
    (folder / "hubspt.toml").write_text(text)
    result = vk(config, "config", "check")
    assert result.returncode == 5 and "rename it to hubspot.toml" in result.stderr
