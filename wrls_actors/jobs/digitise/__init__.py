"""What the two digitise jobs share (digitise-to-licence-gauging-stations and digitise-to-lvp-sync): the
replay of approved digitise edits (:mod:`.reducer`), the WR22 condition rules (:mod:`.wr22`), the bulk
reads (:mod:`.edits`) and the report of skipped licences (:mod:`.report`). Not a job itself."""
