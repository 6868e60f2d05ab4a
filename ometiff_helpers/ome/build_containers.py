"""People, projects, datasets and plates (wells, well samples) of an OME-XML document, and the BinaryOnly stub."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ometiff_helpers.ome.model import Experimenter
from ometiff_helpers.ome.values import ValueReader
from ometiff_helpers.ome.xmlnode import Node, ref_id

if TYPE_CHECKING:  # imported where first built: a file without them does not pay for their classes
    from ometiff_helpers.ome.model_containers import BinaryOnly, Dataset, ExperimenterGroup, Plate, Project


class ContainerBuilder(ValueReader):
    """Records of the parts that organise images: experimenters, groups, projects, datasets, plates."""

    def experimenter(self, n: Node) -> Experimenter:
        return Experimenter(
            id=n.get("ID") or "",
            first_name=self._attr_or_child(n, "FirstName"),
            last_name=self._attr_or_child(n, "LastName"),
            email=self._attr_or_child(n, "Email"),
            institution=self._attr_or_child(n, "Institution"),
            user_name=self._attr_or_child(n, "UserName") or self._attr_or_child(n, "OMEName"),
        )

    def group(self, n: Node) -> ExperimenterGroup:
        from ometiff_helpers.ome.model_containers import ExperimenterGroup

        return ExperimenterGroup(
            id=n.get("ID") or "",
            name=self._attr_or_child(n, "Name"),
            description=n.child_text("Description"),
            leader_refs=self._refs(n, "Leader"),
            experimenter_refs=self._refs(n, "ExperimenterRef"),
        )

    def project(self, n: Node) -> Project:
        from ometiff_helpers.ome.model_containers import Project

        return Project(
            id=n.get("ID") or "",
            name=n.get("Name"),
            description=n.child_text("Description"),
            dataset_refs=self._refs(n, "DatasetRef"),
            annotation_refs=self._refs(n, "AnnotationRef"),
        )

    def dataset(self, n: Node) -> Dataset:
        from ometiff_helpers.ome.model_containers import Dataset

        return Dataset(
            id=n.get("ID") or "",
            name=n.get("Name"),
            description=n.child_text("Description"),
            image_refs=self._refs(n, "ImageRef"),
            annotation_refs=self._refs(n, "AnnotationRef"),
        )

    def plate(self, n: Node) -> Plate:
        from ometiff_helpers.ome.model_containers import Plate, Well, WellSample

        wells = []
        for w in n.iter_children("Well"):
            samples = tuple(
                WellSample(
                    id=s.get("ID"),
                    index=self.int_(s, "Index"),
                    image_ref=ref_id(s, "ImageRef"),
                    position_x=self.qty(s, "PositionX", "reference frame", length=True),
                    position_y=self.qty(s, "PositionY", "reference frame", length=True),
                    timepoint=s.get("Timepoint"),
                )
                for s in w.iter_children("WellSample")
            )
            wells.append(
                Well(
                    id=w.get("ID"),
                    row=self.int_(w, "Row"),
                    column=self.int_(w, "Column"),
                    external_description=w.get("ExternalDescription"),
                    samples=samples,
                )
            )
        return Plate(
            id=n.get("ID"),
            name=n.get("Name"),
            description=n.child_text("Description") or n.get("Description"),
            rows=self.int_(n, "Rows"),
            columns=self.int_(n, "Columns"),
            row_naming=n.get("RowNamingConvention"),
            column_naming=n.get("ColumnNamingConvention"),
            external_identifier=n.get("ExternalIdentifier"),
            wells=tuple(wells),
        )

    @staticmethod
    def binary_only(n: Node) -> BinaryOnly:
        from ometiff_helpers.ome.model_containers import BinaryOnly

        return BinaryOnly(metadata_file=n.get("MetadataFile"), uuid=n.get("UUID"))
